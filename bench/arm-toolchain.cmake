# CMake toolchain file: 32-bit ARM (armhf, ARMv7-A) with Debian's
# gcc-arm-linux-gnueabihf, Thumb-2 code. Used by bench/run for the device
# footprint builds (docs/performance.md); any device-only build can use it:
#   cmake -S . -B build/arm -DCMAKE_TOOLCHAIN_FILE=bench/arm-toolchain.cmake \
#         -DDK_DEVICE_ONLY=ON -DDK_TESTS=OFF ...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_C_FLAGS_INIT "-mthumb")
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config must not hand the host's (x86-64) libraries to the cross build.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig-armhf-none")
set(ENV{PKG_CONFIG_PATH} "")
