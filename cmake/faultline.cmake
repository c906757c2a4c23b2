# faultline_add_test(NAME [CORPUS] SOURCES... [LIBS ...] [LABELS ...] [ENV ...]
#                    [RESOURCE_LOCK lock] [TIMEOUT seconds] [DEFINITIONS ...] [DEPENDS targets...]
#                    [PROPERTIES name value ...])
# One GoogleTest binary; every TEST and TEST_P case becomes its own CTest entry. Does nothing when
# FAULTLINE_BUILD_TESTS is off, so callers need no guard (use if(TARGET ...) for anything more).
# CORPUS: the test reads the shared corpus. It is registered only when FAULTLINE_CORPUS_DIR is set,
# gets the directory as the macro FAULTLINE_CORPUS_DIR (test discovery runs without CTest's
# environment) and as the environment variable, and carries the label `corpus`.
# RESOURCE_LOCK: CTest runs no two tests holding the same lock at once (etcd_cluster: tests that
# bring up etcd clusters). TIMEOUT: per test case, in seconds. DEFINITIONS: compile definitions
# of the test binary. DEPENDS: targets built before it (helpers it runs). PROPERTIES: any other
# CTest properties of every case.
function(faultline_add_test name)
  if(NOT FAULTLINE_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(arg "CORPUS" "RESOURCE_LOCK;TIMEOUT"
                        "SOURCES;LIBS;LABELS;ENV;DEFINITIONS;DEPENDS;PROPERTIES" ${ARGN})
  if(arg_CORPUS)
    if(NOT FAULTLINE_CORPUS_DIR)
      return()
    endif()
    list(APPEND arg_LABELS corpus)
    list(APPEND arg_ENV "FAULTLINE_CORPUS_DIR=${FAULTLINE_CORPUS_DIR}")
    list(APPEND arg_DEFINITIONS "FAULTLINE_CORPUS_DIR=\"${FAULTLINE_CORPUS_DIR}\"")
  endif()
  add_executable(${name} ${arg_SOURCES})
  # GCC 12 at -O2 warns falsely (-Wrestrict, GCC bug 105329) on "literal" + std::string, which
  # tests use freely to build names and inputs; library code avoids the pattern instead.
  target_compile_options(${name} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
  if(arg_DEFINITIONS)
    target_compile_definitions(${name} PRIVATE ${arg_DEFINITIONS})
  endif()
  if(arg_DEPENDS)
    add_dependencies(${name} ${arg_DEPENDS})
  endif()
  target_link_libraries(${name} PRIVATE faultline::options ${arg_LIBS} GTest::gtest GTest::gmock
                                        GTest::gtest_main)
  # Properties are set by a file CTest reads after the discovered cases, not through
  # gtest_discover_tests(PROPERTIES), which flattens list values: LABELS "privileged;slow" there
  # becomes LABELS privileged plus stray pairs, and every property after it is dropped.
  set(props "")
  foreach(kv "LABELS;arg_LABELS" "ENVIRONMENT;arg_ENV" "RESOURCE_LOCK;arg_RESOURCE_LOCK"
             "TIMEOUT;arg_TIMEOUT")
    list(GET kv 0 prop)
    list(GET kv 1 var)
    if(NOT "${${var}}" STREQUAL "")
      string(APPEND props " ${prop} [==[${${var}}]==]")
    endif()
  endforeach()
  set(pending "")
  foreach(item IN LISTS arg_PROPERTIES)
    if(pending STREQUAL "")
      set(pending "${item}")
    else()
      string(APPEND props " ${pending} [==[${item}]==]")
      set(pending "")
    endif()
  endforeach()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_LIST ${name}_TESTS)
  if(props)
    set(file "${CMAKE_CURRENT_BINARY_DIR}/${name}_properties.cmake")
    file(WRITE "${file}" "if(${name}_TESTS)\n  set_tests_properties(\${${name}_TESTS} PROPERTIES${props})\nendif()\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${file}")
  endif()
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
