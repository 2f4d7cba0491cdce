# The out_of_tree_method test (cmake -P): installs the built library into
# <binary dir>/oot/prefix, configures and builds examples/out_of_tree_method against it
# with find_package(qbench) in <binary dir>/oot/build, and runs the result. Any failing
# step fails the test. Variables (set by add_test in CMakeLists.txt): QB_SOURCE_DIR,
# QB_BINARY_DIR, QB_CONFIG, QB_GENERATOR, QB_MAKE_PROGRAM, QB_C_COMPILER, QB_CXX_COMPILER.
cmake_minimum_required(VERSION 3.25)

foreach(var QB_SOURCE_DIR QB_BINARY_DIR QB_GENERATOR QB_C_COMPILER QB_CXX_COMPILER)
  if(NOT ${var})
    message(FATAL_ERROR "out_of_tree_test.cmake: -D${var}=... is required")
  endif()
endforeach()
# An empty configuration (single-config generator, no build type) passes no --config.
if(QB_CONFIG)
  set(config --config ${QB_CONFIG})
endif()

set(root ${QB_BINARY_DIR}/oot)
set(prefix ${root}/prefix)
set(build ${root}/build)
set(exe fixed_range_method)

function(run)
  execute_process(COMMAND ${ARGN} COMMAND_ECHO STDOUT COMMAND_ERROR_IS_FATAL ANY)
endfunction()

# From scratch every time: a stale prefix or cache could hide a missing header or rule.
file(REMOVE_RECURSE ${root})

run(${CMAKE_COMMAND} --install ${QB_BINARY_DIR} --prefix ${prefix} ${config})
run(${CMAKE_COMMAND} -S ${QB_SOURCE_DIR}/examples/out_of_tree_method -B ${build}
    -G ${QB_GENERATOR} -DCMAKE_MAKE_PROGRAM=${QB_MAKE_PROGRAM}
    -DCMAKE_C_COMPILER=${QB_C_COMPILER} -DCMAKE_CXX_COMPILER=${QB_CXX_COMPILER}
    -DCMAKE_BUILD_TYPE=${QB_CONFIG} -DCMAKE_PREFIX_PATH=${prefix})

# The package must have come from the fresh install, not from a copy elsewhere on the system.
file(STRINGS ${build}/CMakeCache.txt qbench_dir REGEX "^qbench_DIR:")
string(REGEX REPLACE "^[^=]*=" "" qbench_dir "${qbench_dir}")
cmake_path(IS_PREFIX prefix "${qbench_dir}" NORMALIZE from_prefix)
if(NOT from_prefix)
  message(FATAL_ERROR "find_package(qbench) used '${qbench_dir}', not the install in ${prefix}")
endif()

run(${CMAKE_COMMAND} --build ${build} ${config})

# Single-config generators put the binary in the build directory, multi-config ones below it.
if(QB_CONFIG AND EXISTS ${build}/${QB_CONFIG}/${exe})
  run(${build}/${QB_CONFIG}/${exe})
else()
  run(${build}/${exe})
endif()
