# Redis backend, pure layer: URL parsing, the hiredis codec, pytheus's layout (json.dumps
# fixtures), flush and scrape planning; then the same code against a real redis-server.
add_executable(redis_test
  unit/redis_url_test.cpp
  unit/redis_codec_test.cpp
  unit/redis_layout_test.cpp
  unit/redis_flush_test.cpp
  unit/redis_scrape_test.cpp
  unit/redis_delta_test.cpp
)
target_link_libraries(redis_test PRIVATE metricsd::core metricsd_test_support GTest::gtest_main)
target_include_directories(redis_test PRIVATE support)
gtest_discover_tests(redis_test)

find_program(REDIS_SERVER redis-server REQUIRED)
add_executable(redis_roundtrip_test integration/redis_roundtrip_test.cpp)
target_link_libraries(redis_roundtrip_test PRIVATE metricsd_integration_support metricsd::core
                                                   GTest::gtest_main)
target_include_directories(redis_roundtrip_test PRIVATE support)
gtest_discover_tests(redis_roundtrip_test PROPERTIES LABELS integration)
