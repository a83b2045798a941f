# Finds every third-party dependency (DESIGN.md §3). Debian bookworm packages are
# listed in scripts/install-deps.sh. LibTorch can be Debian's or any other one given
# through CMAKE_PREFIX_PATH (e.g. the CUDA build inside a pip torch wheel:
#   cmake -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(ZLIB REQUIRED)

# LibTorch: only generator/ and trainer/ link it. Found before RocksDB: both pull in
# gflags, and when RocksDB's config creates the `gflags` target first, Torch's copy of
# it has no imported location and generation fails.
find_package(Torch REQUIRED CONFIG)

find_package(RocksDB REQUIRED CONFIG)
find_package(spdlog REQUIRED CONFIG)
find_package(fmt REQUIRED CONFIG)
find_package(nlohmann_json REQUIRED CONFIG)
find_package(tomlplusplus REQUIRED CONFIG)
find_package(CLI11 REQUIRED CONFIG)
find_package(tl-expected REQUIRED CONFIG)
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem)
find_package(GTest REQUIRED CONFIG)
find_package(benchmark CONFIG)

pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
