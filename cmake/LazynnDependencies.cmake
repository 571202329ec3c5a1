# Every dependency comes from Debian packages; nothing is downloaded at build time.
find_package(xtl REQUIRED)
find_package(xsimd REQUIRED)
find_package(xtensor REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)

# OpenBLAS ships a config file with variables only; wrap it in an imported target.
find_package(OpenBLAS REQUIRED CONFIG)
if(NOT TARGET lazynn_openblas)
  add_library(lazynn_openblas INTERFACE IMPORTED)
  set_target_properties(lazynn_openblas PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${OpenBLAS_INCLUDE_DIRS}"
    INTERFACE_LINK_LIBRARIES "${OpenBLAS_LIBRARIES}")
endif()

# oneDNN (libdnnl-dev) runs float32 GEMM and convolutions; it detects the CPU's ISA itself. Its CMake
# config also demands OpenCL development files for its GPU runtime, which lazynn never uses, so the
# library is wrapped here from its header and shared object instead. Debian's build threads with
# OpenMP (libgomp): lazynn links libgomp directly to make oneDNN calls single-threaded on each of its
# own threads (framework/src/ops/onednn.hpp).
find_path(LAZYNN_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp REQUIRED)
find_library(LAZYNN_DNNL_LIBRARY NAMES dnnl REQUIRED)
find_library(LAZYNN_GOMP_LIBRARY NAMES gomp libgomp.so.1 PATHS /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu REQUIRED)
if(NOT TARGET lazynn_onednn)
  add_library(lazynn_onednn INTERFACE IMPORTED)
  set_target_properties(lazynn_onednn PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${LAZYNN_DNNL_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${LAZYNN_DNNL_LIBRARY};${LAZYNN_GOMP_LIBRARY}")
endif()
