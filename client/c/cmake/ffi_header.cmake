# metricsd_ffi.h from metricsd.h: the same declarations without a single preprocessor line, for
# FFI parsers that take C declarations but no preprocessor (PHP's FFI::cdef). Drops the include
# guard, the #includes (FFI parsers know size_t and the <stdint.h> types) and the
# `#ifdef __cplusplus` blocks with what they hold. Fails when a preprocessor line it does not
# know appears, so a new macro in metricsd.h is noticed here, not in a user's FFI::cdef.
#   cmake -DIN=metricsd.h -DOUT=metricsd_ffi.h -P ffi_header.cmake
file(STRINGS ${IN} lines)
set(out "/* Generated from metricsd.h at build time: metricsd.h without preprocessor lines, for\n")
string(APPEND out " * FFI::cdef(file_get_contents(\"metricsd_ffi.h\"), \"libmetricsd.so.0\") and the like.\n")
string(APPEND out " * Do not edit; edit metricsd.h. */\n")
set(in_cplusplus FALSE)
foreach(line IN LISTS lines)
  if(line MATCHES "^#ifdef __cplusplus")
    set(in_cplusplus TRUE)
  elseif(in_cplusplus)
    if(line MATCHES "^#endif")
      set(in_cplusplus FALSE)
    endif()
  elseif(line MATCHES "^#(ifndef METRICSD_H|define METRICSD_H$|endif /\\* METRICSD_H \\*/|include <std(def|int)\\.h>)")
    # dropped
  elseif(line MATCHES "^[ \t]*#")
    message(FATAL_ERROR "metricsd.h: preprocessor line metricsd_ffi.h cannot drop: ${line}")
  else()
    string(APPEND out "${line}\n")
  endif()
endforeach()
file(WRITE ${OUT}.tmp "${out}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
