# Compiles each pv_core source for RV32IMC/ilp32 (the ESP32-C3) with picolibc headers and -Werror.
# mbedTLS: only the *directory* mbedtls/ of the host headers is exposed (through a one-entry include
# dir), so glibc headers never mix with picolibc's; Debian's mbedTLS 2.28 headers only need
# <stddef.h>/<stdint.h>, which picolibc and GCC provide.
file(MAKE_DIRECTORY "${PV_OUT_DIR}/include")
if(NOT EXISTS "${PV_OUT_DIR}/include/mbedtls")
    file(CREATE_LINK "${PV_MBEDTLS_INCLUDE_DIR}/mbedtls" "${PV_OUT_DIR}/include/mbedtls" SYMBOLIC)
endif()
file(GLOB sources "${PV_CORE_DIR}/src/*.c")
foreach(src ${sources})
    get_filename_component(name "${src}" NAME_WE)
    execute_process(
        COMMAND "${PV_RISCV_GCC}" -march=rv32imc -mabi=ilp32 --specs=picolibc.specs -std=c11
                -Os -Wall -Wextra -Werror -pedantic -Wconversion -Wno-sign-conversion
                -I "${PV_CORE_DIR}/include" -isystem "${PV_OUT_DIR}/include"
                -c "${src}" -o "${PV_OUT_DIR}/${name}.o"
        RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "RV32IMC compile failed: ${src}")
    endif()
    message(STATUS "rv32imc: ${name}.o")
endforeach()
