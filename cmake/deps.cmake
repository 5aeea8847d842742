# System libraries (Debian 12 packages, DESIGN §3). Imported targets dk::<name>.
find_library(MBEDTLS_LIB mbedtls REQUIRED)
find_library(MBEDX509_LIB mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)
add_library(dk::mbedcrypto INTERFACE IMPORTED)
set_target_properties(dk::mbedcrypto PROPERTIES INTERFACE_LINK_LIBRARIES "${MBEDCRYPTO_LIB}")
add_library(dk::mbedtls INTERFACE IMPORTED)
set_target_properties(dk::mbedtls PROPERTIES
  INTERFACE_LINK_LIBRARIES "${MBEDTLS_LIB};${MBEDX509_LIB};${MBEDCRYPTO_LIB}")

pkg_check_modules(GNUTLS IMPORTED_TARGET gnutls)
pkg_check_modules(QRENCODE IMPORTED_TARGET libqrencode)
pkg_check_modules(MHD IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(CJSON IMPORTED_TARGET libcjson)
pkg_check_modules(SQLITE IMPORTED_TARGET sqlite3)
pkg_check_modules(CMOCKA IMPORTED_TARGET cmocka)
pkg_check_modules(GPIOD IMPORTED_TARGET libgpiod)
pkg_check_modules(CURL IMPORTED_TARGET libcurl)
