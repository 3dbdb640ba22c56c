// scan/magic.h — the true type of content from its first bytes, whatever its name or declared
// type says.
//
// SECURITY: decides what an attachment really is (a PE named invoice.txt is a PE). Reads only
// the bytes it is given (at most kMagicBytes from the start of a decoded part); every offset is
// checked against the length before it is read.
// STANDARDS: formats' own signatures: PE/COFF (MZ, e_lfanew at 0x3C, "PE\0\0"), ELF
// (0x7F "ELF"), Mach-O (FEEDFACE/FEEDFACF/CAFEBABE), ZIP (APPNOTE 4.3.7 local header "PK\3\4"),
// OOXML (ECMA-376 Part 2: a zip holding [Content_Types].xml), RAR 4/5, 7z, gzip (RFC 1952),
// bzip2, xz, POSIX tar ("ustar" at 257), CAB (MSCF), OLE2 compound file (D0CF11E0), PDF
// (%PDF- within the first 1024 bytes, as readers accept), RTF, PNG, JPEG, GIF.
#pragma once

#include "common/bytes.h"
#include "scan/mime_types.h"

namespace mx::scan {

// The type of content starting with `head` (the first bytes of a part, up to kMagicBytes).
TrueType detect_true_type(ByteSpan head) noexcept;

// True for types that run code or carry it (executables, scripts, archives, Office, PDF).
bool is_active_type(TrueType t) noexcept;

}  // namespace mx::scan
