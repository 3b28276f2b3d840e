# The Debian package: `cpack -G DEB` in the build tree (or `cmake --build
# BUILD --target package`) makes tdpwatch_<version>_<arch>.deb with
#   /usr/bin/tdpwatchd (and /usr/bin/tdpwatch, the CLI, when it is built),
#   /usr/lib/tdpwatch/lib{ssl,crypto}.so (civetweb's TLS, exporter/civetweb_libssl),
#   /lib/systemd/system/tdpwatchd.service,
#   /etc/tdpwatch/tdpwatchd.conf (a conffile),
#   /usr/share/tdpwatch/{grafana,prometheus}/ (dashboard, alert rules),
#   /usr/share/doc/tdpwatch/ (READMEs).
# Depends: from dpkg-shlibdeps.  Maintainer scripts: deploy/debian/.
# Included once from the top-level CMakeLists.txt.

# Absolute destinations are the point here (/etc, /lib/systemd); CPack's DEB
# generator stages them like the rest.
install(TARGETS tdpwatchd RUNTIME DESTINATION bin)
# civetweb's TLS (exporter/civetweb_libssl): the libssl.so shim and a
# libcrypto.so link, in tdpwatchd's private directory (its DT_RPATH).
install(TARGETS tdpw_civetweb_libssl LIBRARY DESTINATION ${TDPW_INSTALLED_PRIVATE_LIB_DIR})
install(FILES ${TDPW_PRIVATE_LIB_DIR}/libcrypto.so DESTINATION ${TDPW_INSTALLED_PRIVATE_LIB_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/tdpwatchd.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/grafana/tdpwatch.json
        DESTINATION share/tdpwatch/grafana)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/prometheus/tdpwatch-rules.yml
              ${PROJECT_SOURCE_DIR}/deploy/prometheus/tdpwatch-recording-rules.yml
              ${PROJECT_SOURCE_DIR}/deploy/web-config.yml
        DESTINATION share/tdpwatch/prometheus)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/tdpwatch)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/README.md DESTINATION share/doc/tdpwatch
        RENAME README.deploy.md)
install(FILES ${PROJECT_SOURCE_DIR}/exporter/README.md DESTINATION share/doc/tdpwatch
        RENAME README.metrics.md)

# The sample configuration, once it is in the tree (deploy/tdpwatchd.conf).
set(_tdpw_control_extra
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
if(EXISTS ${PROJECT_SOURCE_DIR}/deploy/tdpwatchd.conf)
  install(FILES ${PROJECT_SOURCE_DIR}/deploy/tdpwatchd.conf DESTINATION /etc/tdpwatch)
  # A conffile: dpkg keeps the administrator's edits across upgrades.
  file(WRITE ${PROJECT_BINARY_DIR}/debian/conffiles "/etc/tdpwatch/tdpwatchd.conf\n")
  list(APPEND _tdpw_control_extra ${PROJECT_BINARY_DIR}/debian/conffiles)
endif()

# The CLI lives in another directory that may be added after this file:
# decide at the end of the top-level directory, when every target exists.
function(_tdpw_install_cli)
  if(TARGET tdpwatch)
    install(TARGETS tdpwatch RUNTIME DESTINATION bin)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL _tdpw_install_cli)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tdpwatch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR tdpwatch)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "per-VM KVM TDP MMU page-table accounting, exported to Prometheus")
set(CPACK_PACKAGE_DESCRIPTION
    "tdpwatchd pairs a userspace reimplementation of KVM's TDP MMU page accounting with eBPF probes, reconciles it against the kernel's own counters and exports per-VM page-table pages, NX huge page lists, drift and leaks as Prometheus metrics. Ships a systemd service, a Grafana dashboard and Prometheus alert rules.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "tdpwatch developers <tdpwatch@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS prometheus)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${_tdpw_control_extra})
# Debug info stays in the build tree; the package gets stripped binaries.
set(CPACK_STRIP_FILES ON)
include(CPack)
