# metricsd_pure_library(<target>): the target is pure logic and the build keeps it so.
#  - At configure time: neither it nor anything it links (transitively) links Asio/Beast
#    (Boost::headers, metricsd::net), hiredis or spdlog.
#  - At build time, before the target compiles: none of its sources, nor any project header
#    they reach through #include "..." or <metricsd/...>, includes boost/asio, boost/beast,
#    hiredis, spdlog or daemon/net/. Boost and hiredis sit in /usr/include, which every
#    compiler searches, so not linking them alone would not stop an include.
set(_metricsd_pure_forbidden_links Boost::headers Boost::boost PkgConfig::HIREDIS spdlog::spdlog
    metricsd_net metricsd::net)
set(_metricsd_pure_script ${CMAKE_CURRENT_LIST_DIR}/check_pure_includes.cmake)

function(metricsd_pure_library target)
  get_target_property(_sources ${target} SOURCES)
  get_target_property(_dir ${target} SOURCE_DIR)
  set(_files "")
  foreach(_s IN LISTS _sources)
    if(NOT IS_ABSOLUTE "${_s}")
      set(_s "${_dir}/${_s}")
    endif()
    list(APPEND _files "${_s}")
    # Its header, and through the includes every header it reaches.
    string(REGEX REPLACE "\\.cpp$" ".hpp" _h "${_s}")
    if(EXISTS "${_h}")
      list(APPEND _files "${_h}")
    endif()
  endforeach()
  file(GLOB _public CONFIGURE_DEPENDS "${_dir}/include/metricsd/*/*.hpp")
  list(APPEND _files ${_public})
  string(REPLACE ";" "|" _arg "${_files}")
  add_custom_target(${target}_purity
    COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR} -DTARGET=${target} "-DFILES=${_arg}"
            -P ${_metricsd_pure_script}
    COMMENT "Checking that ${target} includes no Asio, Beast, hiredis or spdlog"
    VERBATIM)
  add_dependencies(${target} ${target}_purity)
  # Deferred to the end of the configure step, when every link is known. A deferred call's
  # arguments are expanded when it runs, so the target name is baked in here.
  cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY \"${PROJECT_SOURCE_DIR}\" CALL _metricsd_check_pure_links ${target} ${target})")
endfunction()

function(_metricsd_check_pure_links pure target)
  if(NOT TARGET ${target})
    return()
  endif()
  get_target_property(_aliased ${target} ALIASED_TARGET)
  if(_aliased)
    set(target ${_aliased})
  endif()
  set(_links "")
  get_target_property(_type ${target} TYPE)
  if(NOT _type STREQUAL "INTERFACE_LIBRARY")
    get_target_property(_direct ${target} LINK_LIBRARIES)
    if(_direct)
      list(APPEND _links ${_direct})
    endif()
  endif()
  get_target_property(_iface ${target} INTERFACE_LINK_LIBRARIES)
  if(_iface)
    list(APPEND _links ${_iface})
  endif()
  foreach(_l IN LISTS _links)
    if(_l IN_LIST _metricsd_pure_forbidden_links)
      message(FATAL_ERROR "${pure} is a pure library but links ${_l} (through ${target})")
    endif()
    if(_l MATCHES "^metricsd")
      _metricsd_check_pure_links(${pure} ${_l})
    endif()
  endforeach()
endfunction()
