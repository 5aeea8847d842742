# mbedTLS built from a source tree (DK_MBEDTLS_SOURCE) with the project's own
# config header (DK_MBEDTLS_CONFIG) instead of the system library: the device's
# minimal-footprint builds (bench/, docs/build.md). Three static libraries like
# upstream's; the config header is part of their interface, because it decides
# the layout of every mbedTLS structure our code embeds.
set(dk_mb_lib ${DK_MBEDTLS_SOURCE}/library)
file(GLOB dk_mb_all RELATIVE ${dk_mb_lib} ${dk_mb_lib}/*.c)
set(dk_mb_tls "")
set(dk_mb_x509 "")
set(dk_mb_crypto "")
foreach(f ${dk_mb_all})
  if(f MATCHES "^(ssl_.*|debug|net_sockets)\\.c$")
    list(APPEND dk_mb_tls ${dk_mb_lib}/${f})
  elseif(f MATCHES "^(x509.*|certs|pkcs11)\\.c$")
    list(APPEND dk_mb_x509 ${dk_mb_lib}/${f})
  else()
    list(APPEND dk_mb_crypto ${dk_mb_lib}/${f})
  endif()
endforeach()

foreach(part crypto x509 tls)
  add_library(dk_mb_${part} STATIC ${dk_mb_${part}})
  target_include_directories(dk_mb_${part} BEFORE PUBLIC ${DK_MBEDTLS_SOURCE}/include
                                                  PRIVATE ${dk_mb_lib})
  target_compile_definitions(dk_mb_${part} PUBLIC "MBEDTLS_CONFIG_FILE=\"${DK_MBEDTLS_CONFIG}\"")
  # Third-party code: our -Werror set does not apply; sections for --gc-sections do.
  set_target_properties(dk_mb_${part} PROPERTIES COMPILE_OPTIONS "-ffunction-sections;-fdata-sections;-w")
endforeach()
target_link_libraries(dk_mb_x509 PUBLIC dk_mb_crypto)
target_link_libraries(dk_mb_tls PUBLIC dk_mb_x509)

add_library(dk::mbedcrypto INTERFACE IMPORTED)
set_target_properties(dk::mbedcrypto PROPERTIES INTERFACE_LINK_LIBRARIES dk_mb_crypto)
add_library(dk::mbedtls INTERFACE IMPORTED)
set_target_properties(dk::mbedtls PROPERTIES INTERFACE_LINK_LIBRARIES dk_mb_tls)
message(STATUS "mbedTLS: built from ${DK_MBEDTLS_SOURCE} with ${DK_MBEDTLS_CONFIG}")
