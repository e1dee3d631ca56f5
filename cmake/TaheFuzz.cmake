# TAHE_FUZZ=ON builds the libFuzzer targets of tests/fuzz with clang (tests/fuzz/run.sh sets it):
# everything compiled in this build gets libFuzzer's coverage instrumentation and AddressSanitizer
# and UndefinedBehaviorSanitizer, so that the parsers under test are instrumented, not only the
# fuzzers. Undefined behaviour aborts (no recovery), so libFuzzer reports it as a crash.
# Included by the root CMakeLists.txt before any target is defined. The normal build (OFF) only
# replays the kept corpus (ctest fuzz_replay_<name>).
option(TAHE_FUZZ "Build the libFuzzer targets of tests/fuzz (needs clang)" OFF)

if(TAHE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TAHE_FUZZ=ON needs clang (CC=clang CXX=clang++; tests/fuzz/run.sh "
                        "configures such a build), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  # Every binary of this build links the sanitizer runtimes; the fuzzers add -fsanitize=fuzzer.
  add_link_options(-fsanitize=address,undefined)
endif()
