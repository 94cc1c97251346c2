/*
 * openapi_doc.c: embeds openapi.json (next to this file) in the binary, so the
 * document the server publishes is the one in the tree, byte for byte.
 */
#include "api/api.h"

__asm__(".section .rodata\n"
        ".global api_openapi_json\n"
        ".type api_openapi_json, @object\n"
        ".balign 16\n"
        "api_openapi_json:\n"
        ".incbin \"src/api/openapi.json\"\n"
        "api_openapi_json_end:\n"
        ".byte 0\n"
        ".global api_openapi_json_len\n"
        ".type api_openapi_json_len, @object\n"
        ".balign 4\n"
        "api_openapi_json_len:\n"
        ".int api_openapi_json_end - api_openapi_json\n"
        ".section .note.GNU-stack,\"\",@progbits\n"
        ".text\n");
