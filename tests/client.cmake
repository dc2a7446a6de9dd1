# C++ client: declaration checks, delivery against a real in-process peer (the daemon's own
# store + ingest_handler behind a real Unix socket), fork safety; and the inc() benchmark.
add_library(client_test_peer STATIC ${CMAKE_CURRENT_LIST_DIR}/unit/client_test_peer.cpp)
target_include_directories(client_test_peer PUBLIC ${CMAKE_CURRENT_LIST_DIR}/unit)
target_link_libraries(client_test_peer PUBLIC metricsd::core metricsd_integration_support)

add_executable(client_test
  ${CMAKE_CURRENT_LIST_DIR}/unit/client_api_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unit/client_buffer_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unit/client_delivery_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unit/client_fork_test.cpp
)
target_link_libraries(client_test PRIVATE
  metricsd::client client_test_peer metricsd::core metricsd_test_support GTest::gtest_main)
# client_buffer_test checks a private part of the library.
target_include_directories(client_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../client/cpp/src)
gtest_discover_tests(client_test)

# Not a test: `client_inc_bench` prints client_inc_ns_median=<ns per inc()>.
add_executable(client_inc_bench ${CMAKE_CURRENT_LIST_DIR}/../bench/client_inc_bench.cpp)
target_link_libraries(client_inc_bench PRIVATE metricsd::client client_test_peer)
set_target_properties(client_inc_bench PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
