# C API (client/c) and metricsctl (client/tools): header checks and a C smoke test without a
# daemon; end-to-end tests against the real daemon; one scenario shared by every client.

# The header on its own must be valid C89 (given <stdint.h>) and C99.
foreach(_std c89 c99)
  add_test(NAME capi_header_${_std}
           COMMAND ${CMAKE_C_COMPILER} -std=${_std} -pedantic-errors -Wall -Wextra -Werror
                   -fsyntax-only -x c ${PROJECT_SOURCE_DIR}/client/c/include/metricsd.h)
endforeach()

# Plain C11 program linked against libmetricsd.so (and against the static variant): the header
# and the library work from C. metricsd_options' compile flags are C++ ones, so the warnings
# are set by hand; its link options bring the sanitizer runtime when METRICSD_SANITIZE is set.
function(metricsd_add_c_test name library)
  add_executable(${name} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/unit/capi_test.c)
  set_target_properties(${name} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
                                           C_EXTENSIONS OFF)
  target_link_libraries(${name} PRIVATE ${library})
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wpedantic
                                         $<$<BOOL:${METRICSD_WERROR}>:-Werror>)
  target_link_options(${name} PRIVATE
                      $<TARGET_PROPERTY:metricsd_options,INTERFACE_LINK_OPTIONS>)
endfunction()
metricsd_add_c_test(capi_c_test metricsd_c)
add_test(NAME capi_c_smoke COMMAND capi_c_test)
metricsd_add_c_test(capi_c_static_test metricsd_c_static)
add_test(NAME capi_c_smoke_static COMMAND capi_c_static_test)

set(_capi_defs
  METRICSD_METRICSCTL_BINARY="$<TARGET_FILE:metricsctl>"
  METRICSD_PYTHON_CLIENT_DIR="${PROJECT_SOURCE_DIR}/client/python")

# The C API end to end; the code under test is reached through <metricsd.h> only.
add_executable(capi_test ${CMAKE_CURRENT_LIST_DIR}/integration/capi_test.cpp)
target_link_libraries(capi_test PRIVATE metricsd_c metricsd_integration_support GTest::gtest_main)
add_dependencies(capi_test metricsd)
gtest_discover_tests(capi_test PROPERTIES LABELS integration)

add_executable(metricsctl_test ${CMAKE_CURRENT_LIST_DIR}/integration/metricsctl_test.cpp)
target_link_libraries(metricsctl_test PRIVATE metricsd_integration_support GTest::gtest_main)
target_compile_definitions(metricsctl_test PRIVATE ${_capi_defs})
add_dependencies(metricsctl_test metricsd metricsctl)
gtest_discover_tests(metricsctl_test PROPERTIES LABELS integration)

# C++, C, Python and metricsctl against one daemon.
add_executable(conformance_test ${CMAKE_CURRENT_LIST_DIR}/integration/conformance_test.cpp)
target_link_libraries(conformance_test PRIVATE
  metricsd::client metricsd_c metricsd_integration_support GTest::gtest_main)
target_compile_definitions(conformance_test PRIVATE ${_capi_defs})
add_dependencies(conformance_test metricsd metricsctl)
gtest_discover_tests(conformance_test PROPERTIES LABELS integration)
