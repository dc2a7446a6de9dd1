# Integration tests: the real metricsd binary, real worker processes, promtool, Prometheus.
add_library(metricsd_integration_support STATIC
  integration/harness.cpp
  integration/raw_client.cpp
  integration/daemon_fixture.cpp
)
target_include_directories(metricsd_integration_support PUBLIC integration)
target_link_libraries(metricsd_integration_support PUBLIC metricsd::protocol metricsd_options)
target_compile_definitions(metricsd_integration_support PRIVATE
  METRICSD_BINARY="$<TARGET_FILE:metricsd>"
  METRICSD_WORKER_BINARY="$<TARGET_FILE_DIR:metricsd>/metricsd_test_worker")

# metricsd_integration_test(NAME [DEPENDS targets...]): integration/NAME.cpp against the real
# daemon binary, labelled `integration` for ctest.
function(metricsd_integration_test name)
  cmake_parse_arguments(arg "" "" "DEPENDS" ${ARGN})
  add_executable(${name} integration/${name}.cpp)
  target_link_libraries(${name} PRIVATE metricsd_integration_support GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE METRICSD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_dependencies(${name} metricsd ${arg_DEPENDS})
  gtest_discover_tests(${name} PROPERTIES LABELS integration)
endfunction()

# A worker process instrumented with the C++ client.
add_executable(metricsd_test_worker integration/worker.cpp)
target_link_libraries(metricsd_test_worker PRIVATE metricsd::client)

find_program(PROMETHEUS prometheus REQUIRED)
metricsd_integration_test(daemon_test)
metricsd_integration_test(workers_test DEPENDS metricsd_test_worker)
metricsd_integration_test(prometheus_test)
metricsd_integration_test(config_cli_test)
metricsd_integration_test(persistence_test)
metricsd_integration_test(sd_notify_test)
metricsd_integration_test(signals_test)
metricsd_integration_test(series_ttl_test)
