// tests/unit/scan/magic_test.cc — true types from content.
#include "scan/magic.h"

#include <gtest/gtest.h>

#include <string>

namespace mx::scan {
namespace {

TrueType type_of(const std::string& s) {
  return detect_true_type(ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

std::string pe() {
  std::string s(0x80, '\0');
  s[0] = 'M';
  s[1] = 'Z';
  s[0x3C] = 0x40;
  s.replace(0x40, 4, std::string("PE\0\0", 4));
  return s;
}

TEST(Magic, Executables) {
  EXPECT_EQ(type_of(pe()), TrueType::kPe);
  std::string bad_lfanew = pe();
  bad_lfanew[0x3C] = '\x7F';
  bad_lfanew[0x3F] = '\x7F';  // far outside what we hold
  EXPECT_EQ(type_of(bad_lfanew), TrueType::kMz);
  EXPECT_EQ(type_of("MZ"), TrueType::kMz);
  EXPECT_EQ(type_of("\x7F" "ELF\x02\x01"), TrueType::kElf);
  EXPECT_EQ(type_of("\xCF\xFA\xED\xFE\x07"), TrueType::kMachO);
  EXPECT_EQ(type_of(std::string("\xCA\xFE\xBA\xBE\x00\x00\x00\x02", 8)), TrueType::kMachO);
  EXPECT_EQ(type_of(std::string("\xCA\xFE\xBA\xBE\x00\x00\x00\x34", 8)), TrueType::kBinary);  // Java class
  EXPECT_EQ(type_of("#!/usr/bin/python\n"), TrueType::kScript);
}

TEST(Magic, ArchivesAndDocuments) {
  std::string zip = std::string("PK\x03\x04", 4) + std::string(26, '\0') + "word/document.xml";
  EXPECT_EQ(type_of(zip), TrueType::kZip);
  EXPECT_EQ(type_of(zip + "PK\x03\x04...[Content_Types].xml"), TrueType::kOoxml);
  EXPECT_EQ(type_of(std::string("Rar!\x1A\x07\x00", 7)), TrueType::kRar);
  EXPECT_EQ(type_of(std::string("Rar!\x1A\x07\x01\x00", 8)), TrueType::kRar);
  EXPECT_EQ(type_of("7z\xBC\xAF\x27\x1C"), TrueType::k7z);
  EXPECT_EQ(type_of("\x1F\x8B\x08"), TrueType::kGzip);
  EXPECT_EQ(type_of(std::string(257, 'a') + "ustar"), TrueType::kTar);
  EXPECT_EQ(type_of("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), TrueType::kOle);
  EXPECT_EQ(type_of("%PDF-1.7"), TrueType::kPdf);
  EXPECT_EQ(type_of(std::string(500, ' ') + "%PDF-1.4"), TrueType::kPdf);  // readers accept junk first
  EXPECT_EQ(type_of(std::string(2000, ' ') + "%PDF-1.4"), TrueType::kText);
  EXPECT_EQ(type_of("{\\rtf1"), TrueType::kRtf);
}

TEST(Magic, TextHtmlBinaryEmpty) {
  EXPECT_EQ(type_of(""), TrueType::kEmpty);
  EXPECT_EQ(type_of("hello\r\nworld \xC3\xA9"), TrueType::kText);
  EXPECT_EQ(type_of("\r\n  <!DOCTYPE html><html>"), TrueType::kHtml);
  EXPECT_EQ(type_of(std::string("a\0b", 3)), TrueType::kBinary);
  EXPECT_EQ(type_of("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR"), TrueType::kText);
}

TEST(Magic, ActiveTypes) {
  EXPECT_TRUE(is_active_type(TrueType::kPe));
  EXPECT_TRUE(is_active_type(TrueType::kOoxml));
  EXPECT_FALSE(is_active_type(TrueType::kText));
  EXPECT_FALSE(is_active_type(TrueType::kPng));
}

}  // namespace
}  // namespace mx::scan
