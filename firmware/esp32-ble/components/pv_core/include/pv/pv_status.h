/* Result codes shared by every pv_core function: 0 is success, negatives are errors. */
#ifndef PV_STATUS_H
#define PV_STATUS_H

typedef enum {
    PV_OK = 0,
    PV_ERR_ARG = -1,         /* null pointer or argument outside its domain */
    PV_ERR_NO_SPACE = -2,    /* output buffer too small */
    PV_ERR_MALFORMED = -3,   /* input bytes do not follow the wire format */
    PV_ERR_AUTH = -4,        /* AES-CCM tag did not verify */
    PV_ERR_RANGE = -5,       /* well-formed value outside its allowed range */
    PV_ERR_UNSUPPORTED = -6, /* unknown opcode, tag or object id */
    PV_ERR_IO = -7,          /* a flash operation failed */
    PV_ERR_CRYPTO = -8,      /* the crypto library refused the operation */
    PV_ERR_NOT_FOUND = -9,   /* no such record or image */
    PV_ERR_EMPTY = -10       /* nothing stored */
} pv_status_t;

#endif
