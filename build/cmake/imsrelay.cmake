# Project-wide compiler settings and the helpers every component uses.

add_compile_definitions(IMSRELAY_VERSION="${PROJECT_VERSION}")

add_compile_options(-Wall -Wextra -Werror -Wshadow -Wvla -Wformat=2 -Wstrict-prototypes
    -Wmissing-prototypes -fno-strict-aliasing)

if(WIN32)
    # Windows 7 API level and Unicode everywhere; one static exe, no runtime DLLs to ship.
    # A program whose entry point is wmain adds -municode to its own link options (cmocka
    # tests use main).
    add_compile_definitions(_WIN32_WINNT=0x0601 WINVER=0x0601 UNICODE _UNICODE
        WIN32_LEAN_AND_MEAN __USE_MINGW_ANSI_STDIO=1)
    add_link_options(-static)
endif()

if(IMSRELAY_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer -g)
    add_link_options(-fsanitize=address,undefined)
endif()

# cmocka: Debian's libcmocka-dev natively, our own static build for mingw (see
# build/cmocka-mingw.sh, which the Makefile runs before configuring the Windows build).
if(NOT TARGET cmocka)
    if(WIN32)
        set(CMOCKA_MINGW_ROOT "${CMAKE_SOURCE_DIR}/out/deps/cmocka-mingw" CACHE PATH
            "Where build/cmocka-mingw.sh installed cmocka for mingw")
        add_library(cmocka STATIC IMPORTED GLOBAL)
        set_target_properties(cmocka PROPERTIES
            IMPORTED_LOCATION "${CMOCKA_MINGW_ROOT}/lib/libcmocka.a"
            INTERFACE_INCLUDE_DIRECTORIES "${CMOCKA_MINGW_ROOT}/include")
    else()
        find_library(CMOCKA_LIBRARY cmocka REQUIRED)
        find_path(CMOCKA_INCLUDE_DIR cmocka.h REQUIRED)
        add_library(cmocka UNKNOWN IMPORTED GLOBAL)
        set_target_properties(cmocka PROPERTIES IMPORTED_LOCATION "${CMOCKA_LIBRARY}"
            INTERFACE_INCLUDE_DIRECTORIES "${CMOCKA_INCLUDE_DIR}")
    endif()
endif()

# mbed TLS for the Windows build only: our own static build from Debian's source package
# (build/mbedtls-mingw.sh, run by the Makefile before configuring; it says why mbed TLS).
# One target, mbedtls, carries the three libraries in link order; nothing to ship.
if(WIN32 AND NOT TARGET mbedtls)
    set(MBEDTLS_MINGW_ROOT "${CMAKE_SOURCE_DIR}/out/deps/mbedtls-mingw" CACHE PATH
        "Where build/mbedtls-mingw.sh installed mbed TLS for mingw")
    foreach(lib mbedcrypto mbedx509 mbedtls)
        add_library(${lib} STATIC IMPORTED GLOBAL)
        set_target_properties(${lib} PROPERTIES
            IMPORTED_LOCATION "${MBEDTLS_MINGW_ROOT}/lib/lib${lib}.a"
            INTERFACE_INCLUDE_DIRECTORIES "${MBEDTLS_MINGW_ROOT}/include")
    endforeach()
    set_target_properties(mbedx509 PROPERTIES INTERFACE_LINK_LIBRARIES "mbedcrypto")
    set_target_properties(mbedtls PROPERTIES INTERFACE_LINK_LIBRARIES "mbedx509;mbedcrypto")
endif()

# imsrelay_unit_test(NAME SOURCES src... [LIBS lib...])
# A cmocka test program. CTest runs it natively, or under Wine (build/wine-run) in the
# Windows build, so the same test proves the same behaviour on both.
function(imsrelay_unit_test name)
    cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE ${T_LIBS} cmocka)
    add_test(NAME ${name} COMMAND ${name})
    if(WIN32)
        set_tests_properties(${name} PROPERTIES LABELS "unit;wine")
    else()
        set_tests_properties(${name} PROPERTIES LABELS "unit")
    endif()
endfunction()

# imsrelay_fuzz_target(NAME SOURCES src... [LIBS lib...] [CORPUS dir])
# A libFuzzer target (IMSRELAY_FUZZ builds only). CTest runs it for a short, bounded time
# so every parser is fuzzed on every `make test`; `make fuzz` runs it longer.
function(imsrelay_fuzz_target name)
    if(NOT IMSRELAY_FUZZ)
        return()
    endif()
    cmake_parse_arguments(T "" "CORPUS" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${T_SOURCES})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE ${T_LIBS})
    set(corpus_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
    set(seeds "")
    if(T_CORPUS)
        set(seeds ${T_CORPUS})
    endif()
    if(NOT IMSRELAY_FUZZ_SECONDS)
        set(IMSRELAY_FUZZ_SECONDS 15)
    endif()
    add_test(NAME ${name}
        COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
            $<TARGET_FILE:${name}> -max_total_time=${IMSRELAY_FUZZ_SECONDS} -print_final_stats=0
            ${corpus_dir} ${seeds})
    set_tests_properties(${name} PROPERTIES LABELS "fuzz")
    file(MAKE_DIRECTORY ${corpus_dir})
endfunction()
