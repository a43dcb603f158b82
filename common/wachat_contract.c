/*
 * wachat_contract: the name tables of the contract, built from its X-macros.
 */

#include <string.h>

#include "wachat_contract.h"


#define WACHAT_NAME(id, name)  { name, sizeof(name) - 1 },

const wachat_name_t  wachat_field_names[WACHAT_FIELD_COUNT] = {
    WACHAT_FIELDS(WACHAT_NAME)
};

const wachat_name_t  wachat_kind_names[WACHAT_KIND_COUNT] = {
    WACHAT_KINDS(WACHAT_NAME)
};

const wachat_name_t  wachat_mode_names[WACHAT_MODE_COUNT] = {
    WACHAT_MODES(WACHAT_NAME)
};

#undef WACHAT_NAME


static int
wachat_contract_lookup(const wachat_name_t *names, int n, const char *name,
    size_t len)
{
    int  i;

    for (i = 0; i < n; i++) {
        if (names[i].len == len && memcmp(names[i].data, name, len) == 0) {
            return i;
        }
    }

    return -1;
}


int
wachat_field_lookup(const char *name, size_t len)
{
    return wachat_contract_lookup(wachat_field_names, WACHAT_FIELD_COUNT,
                                  name, len);
}


int
wachat_kind_lookup(const char *name, size_t len)
{
    return wachat_contract_lookup(wachat_kind_names, WACHAT_KIND_COUNT,
                                  name, len);
}


int
wachat_mode_lookup(const char *name, size_t len)
{
    return wachat_contract_lookup(wachat_mode_names, WACHAT_MODE_COUNT,
                                  name, len);
}
