// A fixture for the layering check: control/ must never include dataplane/.
#include "dataplane/gateway.h"
