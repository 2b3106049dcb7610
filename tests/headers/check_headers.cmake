# Header compile matrix, run as a script:
#
#     cmake -DBABYGPT_SOURCE_DIR=<repo> -DWORK_DIR=<scratch dir> -P tests/headers/check_headers.cmake
#
# (ctest runs it through an add_test in tests/CMakeLists.txt with -DMATRIX=pairwise, label "headers").
# Two parts:
#
#  (a) every public header under include/babygpt compiles on its own: one generated one-line .cpp per
#      header, with one compiler (clang++ if installed, it is the faster one; else g++), C++17, no
#      OpenMP, -Wall -Wextra -Wpedantic -Werror;
#  (b) babygpt.hpp plus api_usage.cpp (which instantiates the main API) compiles warning-free with
#      -Wall -Wextra -Wpedantic -Werror for each of {g++, clang++} x {C++17, C++20} x {with, without
#      -fopenmp}: 8 combinations. With -DMATRIX=pairwise only 4 of them, chosen so that every pair of
#      settings still meets (g++/C++17/without, g++/C++20/with, clang++/C++17/with, clang++/C++20/without):
#      half the time, and a warning that needs two settings together is still caught.
#
# Both parts use -O0 -fsyntax-only: templates are still instantiated and every front-end warning
# (including -Wunknown-pragmas, the one a build without OpenMP is most likely to meet) still appears;
# the optimiser's warnings (-Wmaybe-uninitialized and the like) are left to the optimised test builds.
# A compiler that is not installed is reported as SKIPPED; a failing combination is named, with the
# compiler's output, and the script fails at the end.
#
# Cost, measured on the 2-core development machine while others compiled too: (a) ~1 CPU-minute;
# (b) per combination ~40 s with g++ and ~15 s with clang++, almost all of it instantiating GPT<float>.
# In all, MATRIX=full took 5.9 CPU-minutes (12 minutes of wall time) and MATRIX=pairwise 3.1 (3.5).
#
# Optional variables: MATRIX (full or pairwise, default full), CXX_COMPILERS (default "g++;clang++"),
# EIGEN3_INCLUDE_DIR (default: found by looking for Eigen/Core), EXTRA_INCLUDE_DIRS (e.g.
# nlohmann-json's, if not in a default path).

cmake_minimum_required(VERSION 3.16)

if(NOT BABYGPT_SOURCE_DIR)
  get_filename_component(BABYGPT_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
endif()
if(NOT WORK_DIR)
  set(WORK_DIR "${CMAKE_CURRENT_BINARY_DIR}/header_checks")
endif()
if(NOT CXX_COMPILERS)
  set(CXX_COMPILERS g++ clang++)
endif()
if(NOT MATRIX)
  set(MATRIX full)
endif()
if(NOT MATRIX MATCHES "^(full|pairwise)$")
  message(FATAL_ERROR "check_headers: MATRIX must be full or pairwise, got '${MATRIX}'")
endif()
if(NOT EIGEN3_INCLUDE_DIR)
  find_path(EIGEN3_INCLUDE_DIR Eigen/Core PATH_SUFFIXES eigen3 PATHS /usr/include /usr/local/include)
  if(NOT EIGEN3_INCLUDE_DIR)
    message(FATAL_ERROR "check_headers: Eigen not found; pass -DEIGEN3_INCLUDE_DIR=<dir containing Eigen/Core>")
  endif()
endif()

set(include_dir "${BABYGPT_SOURCE_DIR}/include")
set(warnings -Wall -Wextra -Wpedantic -Werror)
# Eigen (and any extra directory) as system headers: their own warnings are not ours to fix.
set(system_includes -isystem "${EIGEN3_INCLUDE_DIR}")
foreach(dir IN LISTS EXTRA_INCLUDE_DIRS)
  list(APPEND system_includes -isystem "${dir}")
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(compilers "")
foreach(name IN LISTS CXX_COMPILERS)
  find_program(_path_${name} NAMES ${name})
  if(_path_${name})
    list(APPEND compilers "${name}")
  else()
    message(STATUS "SKIPPED ${name}: not installed")
  endif()
endforeach()
if(NOT compilers)
  message(STATUS "SKIPPED: none of ${CXX_COMPILERS} is installed")
  return()
endif()

set(failures "")

# Compiles `source` with `compiler` and `flags`; on failure adds `label` to `failures` and prints the output.
function(check_compile label compiler source)
  set(flags ${ARGN})
  execute_process(
    COMMAND "${_path_${compiler}}" ${flags} -O0 -fsyntax-only ${warnings} -I "${include_dir}" ${system_includes}
            "${source}"
    RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(result EQUAL 0)
    message(STATUS "ok      ${label}")
  else()
    message(STATUS "FAILED  ${label}\n${output}")
    set(failures "${failures}\n  ${label}" PARENT_SCOPE)
  endif()
endfunction()

# ---- (a) every header on its own -------------------------------------------------------------------

if("clang++" IN_LIST compilers)
  set(first_compiler clang++)
else()
  list(GET compilers 0 first_compiler)
endif()
file(GLOB_RECURSE headers RELATIVE "${include_dir}" "${include_dir}/babygpt/*.hpp")
list(SORT headers)
list(LENGTH headers header_count)
message(STATUS "(a) ${header_count} headers, each on its own: ${first_compiler} -std=c++17, no OpenMP")
foreach(header IN LISTS headers)
  string(REPLACE "/" "_" stem "${header}")
  set(source "${WORK_DIR}/alone_${stem}.cpp")
  file(WRITE "${source}" "#include \"${header}\"\n")
  check_compile("alone: ${header}" ${first_compiler} "${source}" -std=c++17)
endforeach()

# ---- (b) the whole API: compilers x standards x OpenMP ----------------------------------------------

message(STATUS "(b) babygpt.hpp + api_usage.cpp, ${MATRIX} matrix of ${compilers} x c++17, c++20 x with, "
               "without -fopenmp")
foreach(compiler IN LISTS compilers)
  list(FIND CXX_COMPILERS "${compiler}" compiler_index)
  foreach(standard c++17 c++20)
    foreach(openmp with without)
      # pairwise: the combinations whose settings' indices (compiler 0/1, c++17/20 0/1, without/with
      # OpenMP 0/1) add up to an even number
      if(MATRIX STREQUAL "pairwise")
        set(parity ${compiler_index})
        if(standard STREQUAL "c++20")
          math(EXPR parity "${parity} + 1")
        endif()
        if(openmp STREQUAL "with")
          math(EXPR parity "${parity} + 1")
        endif()
        math(EXPR parity "${parity} % 2")
        if(parity EQUAL 1)
          continue()
        endif()
      endif()
      set(flags -std=${standard})
      if(openmp STREQUAL "with")
        list(APPEND flags -fopenmp)
      endif()
      check_compile("api: ${compiler} -std=${standard} ${openmp} -fopenmp" ${compiler}
                    "${CMAKE_CURRENT_LIST_DIR}/api_usage.cpp" ${flags})
    endforeach()
  endforeach()
endforeach()

if(failures)
  message(FATAL_ERROR "check_headers: these combinations failed:${failures}")
endif()
message(STATUS "check_headers: all combinations compiled without warnings")
