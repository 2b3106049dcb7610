# Configures, builds and runs one consumer project against babygpt, in a fresh build directory.
#
#   cmake -DCONSUMER_KIND=find_package|add_subdirectory|fetchcontent
#         -DCONSUMER_SOURCE_DIR=<consumer project> -DCONSUMER_WORK_DIR=<scratch dir>
#         -DBABYGPT_SOURCE_DIR=<babygpt source> -DBABYGPT_BINARY_DIR=<babygpt build, for find_package>
#         [-DBABYGPT_BUILD_CONFIG=<config>] [-DCONSUMER_GENERATOR=<generator>]
#         [-DCONSUMER_CXX_COMPILER=<compiler>] [-DEIGEN3_DIR=<dir>]
#         -P run_consumer.cmake

cmake_minimum_required(VERSION 3.16)

foreach(_var CONSUMER_KIND CONSUMER_SOURCE_DIR CONSUMER_WORK_DIR BABYGPT_SOURCE_DIR)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: ${_var} is not set")
  endif()
endforeach()

set(_build_dir "${CONSUMER_WORK_DIR}/build")
set(_prefix "${CONSUMER_WORK_DIR}/prefix")
file(REMOVE_RECURSE "${CONSUMER_WORK_DIR}")
file(MAKE_DIRECTORY "${CONSUMER_WORK_DIR}")

# Runs a command; on failure, stops with the command's output.
function(_run what)
  execute_process(COMMAND ${ARGN}
                  RESULT_VARIABLE _result
                  OUTPUT_VARIABLE _output
                  ERROR_VARIABLE _output)
  if(NOT _result EQUAL 0)
    string(REPLACE ";" " " _cmd "${ARGN}")
    message(FATAL_ERROR "consumer ${CONSUMER_KIND}: ${what} failed (${_result})\n"
                        "command: ${_cmd}\n${_output}")
  endif()
  set(_last_output "${_output}" PARENT_SCOPE)
endfunction()

set(_configure_args
  -S "${CONSUMER_SOURCE_DIR}"
  -B "${_build_dir}"
  -DCMAKE_BUILD_TYPE=Release
  "-DBABYGPT_SOURCE_DIR=${BABYGPT_SOURCE_DIR}")
if(CONSUMER_GENERATOR)
  list(APPEND _configure_args -G "${CONSUMER_GENERATOR}")
endif()
if(CONSUMER_CXX_COMPILER)
  list(APPEND _configure_args "-DCMAKE_CXX_COMPILER=${CONSUMER_CXX_COMPILER}")
endif()
if(EIGEN3_DIR)
  list(APPEND _configure_args "-DEigen3_DIR=${EIGEN3_DIR}")
endif()

if(CONSUMER_KIND STREQUAL "find_package")
  if(NOT BABYGPT_BINARY_DIR)
    message(FATAL_ERROR "run_consumer.cmake: find_package needs BABYGPT_BINARY_DIR")
  endif()
  set(_install_args --install "${BABYGPT_BINARY_DIR}" --prefix "${_prefix}")
  if(BABYGPT_BUILD_CONFIG)
    list(APPEND _install_args --config "${BABYGPT_BUILD_CONFIG}")
  endif()
  _run("install" "${CMAKE_COMMAND}" ${_install_args})
  list(APPEND _configure_args "-DCMAKE_PREFIX_PATH=${_prefix}")
  # The installed trainer runs from the prefix and finds its default corpus there (share/babygpt).
  if(EXISTS "${_prefix}/bin/babygpt")
    _run("installed trainer" "${_prefix}/bin/babygpt" train --max-iters 3 --eval-interval 2 --eval-iters 1
         --sample-tokens 0 --threads 1 --out "${CONSUMER_WORK_DIR}/runs/default.safetensors")
    if(NOT _last_output MATCHES "share/babygpt/default.txt")
      message(FATAL_ERROR "consumer find_package: the installed trainer did not train on the installed "
                          "default corpus:\n${_last_output}")
    endif()
    message(STATUS "consumer find_package: installed trainer ok")
  elseif(EXPECT_INSTALLED_TRAINER)
    message(FATAL_ERROR "consumer find_package: ${_prefix}/bin/babygpt was not installed")
  endif()
elseif(NOT CONSUMER_KIND STREQUAL "add_subdirectory" AND NOT CONSUMER_KIND STREQUAL "fetchcontent")
  message(FATAL_ERROR "run_consumer.cmake: unknown CONSUMER_KIND '${CONSUMER_KIND}'")
endif()

_run("configure" "${CMAKE_COMMAND}" ${_configure_args})
_run("build" "${CMAKE_COMMAND}" --build "${_build_dir}" --config Release)

# Single-config generators put the program in the build dir, multi-config ones in Release/.
set(_exe "")
foreach(_candidate "${_build_dir}/consumer" "${_build_dir}/consumer.exe"
                   "${_build_dir}/Release/consumer" "${_build_dir}/Release/consumer.exe")
  if(EXISTS "${_candidate}")
    set(_exe "${_candidate}")
    break()
  endif()
endforeach()
if(NOT _exe)
  message(FATAL_ERROR "consumer ${CONSUMER_KIND}: the built program was not found in ${_build_dir}")
endif()

_run("run" "${_exe}")
message(STATUS "consumer ${CONSUMER_KIND}: ok\n${_last_output}")
