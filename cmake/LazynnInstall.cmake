include(CMakePackageConfigHelpers)

# The two libraries and the umbrella lazynn::lazynn that links both.
set(LAZYNN_INSTALLED_TARGETS lazynn_core lazynn_nn lazynn)
if(TARGET lazynn_distributed)
  list(APPEND LAZYNN_INSTALLED_TARGETS lazynn_distributed)
  install(DIRECTORY distributed/include/lazynn DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
install(TARGETS ${LAZYNN_INSTALLED_TARGETS} EXPORT lazynnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY framework/include/lazynn modules/include/lazynn include/lazynn
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT lazynnTargets NAMESPACE lazynn::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lazynn)

configure_package_config_file(cmake/lazynnConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/lazynnConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lazynn)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/lazynnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/lazynnConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/lazynnConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lazynn)
