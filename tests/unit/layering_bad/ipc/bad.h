// A fixture for the layering check: ipc/ must not include smtp/.
#include "smtp/client.h"
