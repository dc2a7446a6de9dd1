# Ingest: the per-connection protocol handler (pure) and the session over a real socket pair.
add_executable(ingest_test
  unit/ingest_handler_test.cpp
)
target_link_libraries(ingest_test PRIVATE metricsd_test_support GTest::gtest_main)
gtest_discover_tests(ingest_test)
