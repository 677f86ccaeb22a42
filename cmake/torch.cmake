# Finds LibTorch for the addon (and for scripts/torch-probe, which serves binding.gyp).
# Sets: TORCH_LIBRARIES, TORCH_INCLUDE_DIRS, TORCH_CXX_FLAGS (from TorchConfig),
#       SERE_TORCH_CUDA (ON when the LibTorch found has CUDA), SERE_TORCH_LIB_DIR,
#       SERE_C10D_DEFINES (the c10d backends to compile: SERE_C10D_GLOO, SERE_C10D_NCCL, with the
#       USE_C10D_* macros their headers need),
#       SERE_COMPAT_INCLUDE (stand-ins for headers the LibTorch package lacks, or empty),
#       SERE_CUDA_INCLUDE (CUDA's and NCCL's headers for c10d's NCCL backend, or empty),
#       SERE_DATA_PARALLEL (native/distributed compiles against this LibTorch).
# Which LibTorch is decided by scripts/libtorch.mjs alone, so both builds agree.

get_filename_component(SERE_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
find_program(SERE_NODE NAMES node nodejs REQUIRED)

set(_explicit "")
if(DEFINED Torch_DIR AND NOT Torch_DIR MATCHES "NOTFOUND$" AND NOT Torch_DIR STREQUAL "")
  set(_explicit --explicit "${Torch_DIR}")
endif()
execute_process(
  COMMAND "${SERE_NODE}" "${SERE_ROOT}/scripts/libtorch.mjs" cmake-dir ${_explicit}
  OUTPUT_VARIABLE _torch_dir
  ERROR_VARIABLE _torch_log
  RESULT_VARIABLE _torch_rc)
if(NOT _torch_rc EQUAL 0)
  message(FATAL_ERROR "${_torch_log}")
endif()
message(STATUS "${_torch_log}")
set(Torch_DIR "${_torch_dir}" CACHE PATH "Folder holding TorchConfig.cmake" FORCE)

find_package(Torch REQUIRED)

# A CUDA build of LibTorch exports torch_cuda; then the addon gets CUDA support.
if(TARGET torch_cuda OR TARGET c10_cuda)
  set(SERE_TORCH_CUDA ON)
else()
  set(SERE_TORCH_CUDA OFF)
endif()

# c10d backends for data parallelism: Gloo where its headers are (Debian: libgloo-dev),
# NCCL with a CUDA build. The macros switch on the matching c10d headers.
set(SERE_C10D_DEFINES "")
find_path(SERE_C10D_INCLUDE torch/csrc/distributed/c10d/ProcessGroupGloo.hpp HINTS ${TORCH_INCLUDE_DIRS} NO_CACHE)
find_path(SERE_GLOO_INCLUDE gloo/algorithm.h HINTS ${TORCH_INCLUDE_DIRS} NO_CACHE)
if(SERE_C10D_INCLUDE AND SERE_GLOO_INCLUDE)
  list(APPEND SERE_C10D_DEFINES USE_C10D_GLOO SERE_C10D_GLOO=1)
endif()
# c10d/reducer.hpp includes distributed/autograd/context/context.h, which Debian's package
# lacks; native/compat has a declaration-only stand-in for that case.
set(SERE_COMPAT_INCLUDE "")
if(SERE_C10D_INCLUDE AND NOT EXISTS "${SERE_C10D_INCLUDE}/torch/csrc/distributed/autograd/context/context.h")
  set(SERE_COMPAT_INCLUDE "${SERE_ROOT}/native/compat")
endif()
# c10d's NCCL headers include cuda.h and nccl.h: the CUDA toolkit's, and NCCL's from the
# system, NCCL_INCLUDE_DIR, or pip's nvidia packages beside a pip PyTorch.
set(SERE_CUDA_INCLUDE "")
if(SERE_TORCH_CUDA AND SERE_C10D_INCLUDE AND EXISTS "${SERE_C10D_INCLUDE}/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp")
  file(GLOB _pip_nvidia_includes "${TORCH_INSTALL_PREFIX}/../nvidia/*/include" "${TORCH_INSTALL_PREFIX}/../nvidia/*/*/include")
  find_path(SERE_NCCL_INCLUDE nccl.h
    HINTS ${NCCL_INCLUDE_DIR} $ENV{NCCL_INCLUDE_DIR} ${TORCH_INCLUDE_DIRS} ${CUDAToolkit_INCLUDE_DIRS} ${CUDA_INCLUDE_DIRS} ${_pip_nvidia_includes}
    NO_CACHE)
  if(SERE_NCCL_INCLUDE)
    list(APPEND SERE_C10D_DEFINES USE_C10D_NCCL SERE_C10D_NCCL=1)
    set(SERE_CUDA_INCLUDE ${CUDAToolkit_INCLUDE_DIRS} ${CUDA_INCLUDE_DIRS} ${SERE_NCCL_INCLUDE})
    list(REMOVE_DUPLICATES SERE_CUDA_INCLUDE)
  else()
    message(WARNING "sere-torch: no nccl.h found, so data parallelism on CUDA is left out: set NCCL_INCLUDE_DIR to the folder holding NCCL's nccl.h and rebuild")
  endif()
endif()

# Data parallelism uses c10d's C++ API, which moves between LibTorch versions: compile
# native/distributed against the LibTorch found; if that fails, the addon is built without
# it (and says why when asked for it). The result is cached per build folder.
if(SERE_C10D_DEFINES AND NOT DEFINED SERE_DATA_PARALLEL)
  set(_probe_defines -DSERE_DATA_PARALLEL=1)
  foreach(_define ${SERE_C10D_DEFINES})
    list(APPEND _probe_defines -D${_define})
  endforeach()
  separate_arguments(_probe_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  # and the definitions LibTorch's targets give their users, as the addon's build gets them
  foreach(_target torch torch_cpu torch_cuda c10 c10_cuda)
    if(TARGET ${_target})
      get_target_property(_target_defines ${_target} INTERFACE_COMPILE_DEFINITIONS)
      foreach(_define ${_target_defines})
        if(_define AND NOT _define MATCHES "\\$<")
          list(APPEND _probe_flags -D${_define})
        endif()
      endforeach()
    endif()
  endforeach()
  set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
  message(STATUS "sere-torch: checking that native/distributed compiles against this LibTorch")
  try_compile(_data_parallel "${CMAKE_BINARY_DIR}/sere-data-parallel-probe"
    SOURCES "${SERE_ROOT}/native/distributed/communicator.cc" "${SERE_ROOT}/native/distributed/gradient_averager.cc"
    CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${TORCH_INCLUDE_DIRS};${SERE_ROOT}/native;${SERE_COMPAT_INCLUDE};${SERE_CUDA_INCLUDE}"
    COMPILE_DEFINITIONS ${_probe_flags} ${_probe_defines}
    CXX_STANDARD 17
    OUTPUT_VARIABLE _probe_log)
  set(SERE_DATA_PARALLEL ${_data_parallel} CACHE BOOL "native/distributed compiles against this LibTorch")
  if(NOT _data_parallel)
    # The compiler's errors first (the log opens with the commands and their warnings).
    string(REGEX MATCHALL "[^\n]*error[^\n]*" _probe_errors "${_probe_log}")
    list(JOIN _probe_errors "\n" _probe_errors)
    string(SUBSTRING "${_probe_errors}" 0 3000 _probe_errors)
    string(SUBSTRING "${_probe_log}" 0 2000 _probe_head)
    message(WARNING "sere-torch: data parallelism is left out: native/distributed does not compile against this LibTorch:\n${_probe_errors}\n${_probe_head}")
  endif()
endif()
if(SERE_DATA_PARALLEL)
  list(APPEND SERE_C10D_DEFINES SERE_DATA_PARALLEL=1)
endif()
message(STATUS "sere-torch: c10d: ${SERE_C10D_DEFINES}")

# Where libtorch.so lives, whichever configuration the package was exported with.
get_target_property(_torch_location torch IMPORTED_LOCATION)
get_target_property(_torch_configs torch IMPORTED_CONFIGURATIONS)
foreach(_config ${_torch_configs})
  if(NOT _torch_location)
    get_target_property(_torch_location torch IMPORTED_LOCATION_${_config})
  endif()
endforeach()
get_filename_component(SERE_TORCH_LIB_DIR "${_torch_location}" DIRECTORY)
message(STATUS "sere-torch: LibTorch ${Torch_VERSION} in ${SERE_TORCH_LIB_DIR}, CUDA ${SERE_TORCH_CUDA}")
