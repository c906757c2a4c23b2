# faultline_add_test(NAME [CORPUS] SOURCES... [LIBS ...] [LABELS ...] [ENV ...])
# One GoogleTest binary; every TEST and TEST_P case becomes its own CTest entry.
# CORPUS: the test reads the shared corpus. It is registered only when FAULTLINE_CORPUS_DIR is set,
# gets the directory as the macro FAULTLINE_CORPUS_DIR (test discovery runs without CTest's
# environment) and as the environment variable, and carries the label `corpus`.
function(faultline_add_test name)
  if(NOT FAULTLINE_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(arg "CORPUS" "" "SOURCES;LIBS;LABELS;ENV" ${ARGN})
  if(arg_CORPUS)
    if(NOT FAULTLINE_CORPUS_DIR)
      return()
    endif()
    list(APPEND arg_LABELS corpus)
    list(APPEND arg_ENV "FAULTLINE_CORPUS_DIR=${FAULTLINE_CORPUS_DIR}")
  endif()
  add_executable(${name} ${arg_SOURCES})
  # GCC 12 at -O2 warns falsely (-Wrestrict, GCC bug 105329) on "literal" + std::string, which
  # tests use freely to build names and inputs; library code avoids the pattern instead.
  target_compile_options(${name} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
  if(arg_CORPUS)
    target_compile_definitions(${name} PRIVATE FAULTLINE_CORPUS_DIR="${FAULTLINE_CORPUS_DIR}")
  endif()
  target_link_libraries(${name} PRIVATE faultline::options ${arg_LIBS} GTest::gtest GTest::gmock
                                        GTest::gtest_main)
  set(props "")
  if(arg_LABELS)
    list(APPEND props LABELS "${arg_LABELS}")
  endif()
  if(arg_ENV)
    list(APPEND props ENVIRONMENT "${arg_ENV}")
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()

# faultline_add_benchmark(NAME SOURCES... [LIBS ...]) — not a CTest test; run from the release preset.
function(faultline_add_benchmark name)
  if(NOT FAULTLINE_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(arg "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE faultline::options ${arg_LIBS} benchmark::benchmark
                                        benchmark::benchmark_main)
endfunction()
