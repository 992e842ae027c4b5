# canopy_build_info: the version and commit of the build (base/build_info.h),
# linked into every binary by canopy_binary(). The commit is read at every
# build (cmake/write_build_info.cmake).
set(CANOPY_BUILD_INFO_INC ${CMAKE_BINARY_DIR}/generated/canopy_build_info.inc)
add_custom_target(canopy_build_info_values
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUT=${CANOPY_BUILD_INFO_INC}
          -DVERSION=${PROJECT_VERSION} -P ${PROJECT_SOURCE_DIR}/cmake/write_build_info.cmake
  BYPRODUCTS ${CANOPY_BUILD_INFO_INC}
  COMMENT "build info"
  VERBATIM)
add_library(canopy_build_info STATIC ${PROJECT_SOURCE_DIR}/base/build_info.cc)
add_dependencies(canopy_build_info canopy_build_info_values)
target_include_directories(canopy_build_info PUBLIC ${PROJECT_SOURCE_DIR}
                           PRIVATE ${CMAKE_BINARY_DIR}/generated)
