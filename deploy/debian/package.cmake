# The Debian packages, built by "cpack -G DEB" from a build configured with
# -DTETHER_DEB=ON -DCMAKE_INSTALL_PREFIX=/usr (tests/package/check.sh builds
# and checks them; docs/install.md). Included from deploy/CMakeLists.txt.
#
#   tether-server   tetherd, tetherd.service, /etc/pam.d/tether,
#                   /etc/tether/tetherd.conf (a conffile), tetherd(8),
#                   tetherd.conf(5); its scripts create /var/lib/tether and
#                   enable or start nothing
#   tether-client   tether (libtether linked in statically), tether(1),
#                   bash and zsh completion
#   libtether0      libtether.so.0 (the public API only)
#   libtether-dev   <tether/tether.h>, libtether.so, tether.pc, the example

if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "TETHER_DEB needs -DCMAKE_INSTALL_PREFIX=/usr")
endif()

set(TETHER_DEB_MAINTAINER "The tether authors <tether@example.org>" CACHE STRING
    "The packages' Maintainer field")
set(tether_deb_dir ${CMAKE_CURRENT_SOURCE_DIR}/debian)
set(tether_deb_out ${CMAKE_CURRENT_BINARY_DIR}/debian)

# Every package carries the copyright file (machine-readable, with the
# LICENSE text) and the changelog, gzip'ed, in its /usr/share/doc directory.
file(READ ${CMAKE_SOURCE_DIR}/LICENSE tether_license)
string(REGEX REPLACE "^MIT License\n\n(Copyright[^\n]*)\n\n" "" tether_license_body "${tether_license}")
string(REGEX REPLACE "\n\n" "\n.\n" tether_license_body "${tether_license_body}")
string(REGEX REPLACE "\n$" "" tether_license_body "${tether_license_body}")
string(REGEX REPLACE "\n" "\n " tether_license_body "${tether_license_body}")
file(CONFIGURE OUTPUT ${tether_deb_out}/copyright CONTENT
"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tether

Files: *
Copyright: 2026 The tether authors
License: Expat
 ${tether_license_body}
" @ONLY)
configure_file(${tether_deb_dir}/changelog.in ${tether_deb_out}/changelog @ONLY)
add_custom_command(OUTPUT ${tether_deb_out}/changelog.gz
  COMMAND gzip -9n -c ${tether_deb_out}/changelog > ${tether_deb_out}/changelog.gz
  DEPENDS ${tether_deb_out}/changelog VERBATIM)
add_custom_target(deb-changelog ALL DEPENDS ${tether_deb_out}/changelog.gz)
foreach(c server client lib dev)
  install(FILES ${tether_deb_out}/copyright ${tether_deb_out}/changelog.gz
          DESTINATION ${tether_docdir_${c}} COMPONENT ${c})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tether)
set(CPACK_PACKAGE_VENDOR "The tether authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server client lib dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${TETHER_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME tether-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "libpam-runtime")
set(CPACK_DEBIAN_SERVER_DESCRIPTION "persistent remote sessions and jobs over HTTPS (daemon)
tetherd runs on each host and owns per-user sessions, jobs and transfer
jobs that outlive the client's connection; the tether client logs in,
runs commands in them and picks up their output later from anywhere.
.
This package holds the daemon, its systemd unit (installed, not enabled)
and its PAM service. It creates /var/lib/tether for the daemon's state.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    ${tether_deb_dir}/postinst ${tether_deb_dir}/prerm ${tether_deb_dir}/postrm
    ${tether_deb_dir}/conffiles)

set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME tether-client)
set(CPACK_DEBIAN_CLIENT_PACKAGE_SECTION net)
set(CPACK_DEBIAN_CLIENT_DESCRIPTION "persistent remote sessions and jobs over HTTPS (client)
tether logs in to tetherd hosts, creates sessions, runs commands in them,
starts background and transfer jobs, and disconnects and reconnects from
anywhere without losing output; one command reaches a whole fleet.
.
This package holds the tether command, its manual page and bash and zsh
completion.")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME ${tether_pkg_lib})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
# dpkg runs ldconfig once after the whole install (CPack also adds its own
# ldconfig calls to postinst and postrm: lintian warns about those).
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA ${tether_deb_dir}/triggers)
set(CPACK_DEBIAN_LIB_DESCRIPTION "C client library for tetherd (persistent remote sessions)
libtether talks to tetherd hosts over HTTPS: logging in with a password
or an SSH key, sessions, commands and their streamed output, background
jobs, transfer jobs and resumable uploads.
.
This package holds the shared library.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libtether-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "${tether_pkg_lib} (= ${PROJECT_VERSION}), libjansson-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "C client library for tetherd (development files)
libtether talks to tetherd hosts over HTTPS: logging in with a password
or an SSH key, sessions, commands and their streamed output, background
jobs, transfer jobs and resumable uploads.
.
This package holds the header <tether/tether.h>, the pkg-config file
and an example program.")

include(CPack)
