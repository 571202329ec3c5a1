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
