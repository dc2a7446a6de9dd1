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

add_executable(daemon_test integration/daemon_test.cpp)
target_link_libraries(daemon_test PRIVATE metricsd_integration_support GTest::gtest_main)
add_dependencies(daemon_test metricsd)
gtest_discover_tests(daemon_test PROPERTIES LABELS integration)

# A worker process instrumented with the C++ client.
add_executable(metricsd_test_worker integration/worker.cpp)
target_link_libraries(metricsd_test_worker PRIVATE metricsd::client)

add_executable(workers_test integration/workers_test.cpp)
target_link_libraries(workers_test PRIVATE metricsd_integration_support GTest::gtest_main)
add_dependencies(workers_test metricsd metricsd_test_worker)
gtest_discover_tests(workers_test PROPERTIES LABELS integration)

find_program(PROMETHEUS prometheus REQUIRED)
add_executable(prometheus_test integration/prometheus_test.cpp)
target_link_libraries(prometheus_test PRIVATE metricsd_integration_support GTest::gtest_main)
add_dependencies(prometheus_test metricsd)
gtest_discover_tests(prometheus_test PROPERTIES LABELS integration)
