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

# The real daemon with --backend redis against a real redis-server (started, killed and
# restarted by the redis_server fixture), real worker processes and the C++ client. hiredis's
# blocking API inspects Redis independently of the daemon's own RESP code.
find_package(PkgConfig REQUIRED)
pkg_check_modules(REDIS_TEST_HIREDIS REQUIRED IMPORTED_TARGET hiredis>=0.14)
# The redis_server fixture (start, SIGKILL, restart with AOF) and its blocking client, shared
# with bench/redis_bench.
add_library(metricsd_redis_test_support STATIC integration/redis_server.cpp)
target_link_libraries(metricsd_redis_test_support PUBLIC metricsd_integration_support
                                                         PkgConfig::REDIS_TEST_HIREDIS)
target_include_directories(metricsd_redis_test_support PUBLIC integration)
target_compile_definitions(metricsd_redis_test_support PRIVATE
                           METRICSD_REDIS_SERVER="${REDIS_SERVER}")
metricsd_integration_test(redis_backend_test DEPENDS metricsd_test_worker)
target_link_libraries(redis_backend_test PRIVATE metricsd::client metricsd_redis_test_support)
