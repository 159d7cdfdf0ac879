// A JSON-ish parser: builds a document, then tokenizes and parses it recursively (branchy code,
// byte loads, recursion, a switch on the current character).
#include <stdint.h>
static char doc[200000];
static uint32_t len, pos;

static void put(const char *s) { while (*s && len < sizeof doc - 1) doc[len++] = *s++; }
static void putn(uint32_t n) {
  char tmp[12];
  int i = 0;
  do { tmp[i++] = (char)('0' + n % 10); n /= 10; } while (n);
  while (i) doc[len++] = tmp[--i];
}

static void build(void) {
  len = 0;
  put("[");
  for (uint32_t i = 0; i < 1500; i++) {
    if (i) put(",");
    put("{\"id\":"); putn(i);
    put(",\"name\":\"item\\\"");
    putn(i * 7);
    put("\",\"tags\":[\"a\",\"bb\",\"ccc\"],\"score\":-"); putn(i % 97); put(".25e1");
    put(",\"ok\":true,\"next\":null,\"nested\":{\"x\":[1,2,{\"y\":false}]}}");
  }
  put("]");
  doc[len] = 0;
}

static void ws(void) { while (doc[pos] == ' ' || doc[pos] == '\n' || doc[pos] == '\t' || doc[pos] == '\r') pos++; }
static int value(uint32_t *count);

static int string(void) {
  if (doc[pos] != '"') return -1;
  pos++;
  while (doc[pos] != '"') {
    if (!doc[pos]) return -1;
    if (doc[pos] == '\\') pos++;
    pos++;
  }
  pos++;
  return 0;
}

static int number(void) {
  if (doc[pos] == '-') pos++;
  if (doc[pos] < '0' || doc[pos] > '9') return -1;
  while (doc[pos] >= '0' && doc[pos] <= '9') pos++;
  if (doc[pos] == '.') { pos++; while (doc[pos] >= '0' && doc[pos] <= '9') pos++; }
  if (doc[pos] == 'e' || doc[pos] == 'E') {
    pos++;
    if (doc[pos] == '+' || doc[pos] == '-') pos++;
    while (doc[pos] >= '0' && doc[pos] <= '9') pos++;
  }
  return 0;
}

static int literal(const char *s) {
  while (*s) if (doc[pos++] != *s++) return -1;
  return 0;
}

static int value(uint32_t *count) {
  ws();
  (*count)++;
  switch (doc[pos]) {
    case '{':
      pos++; ws();
      if (doc[pos] == '}') { pos++; return 0; }
      for (;;) {
        ws();
        if (string()) return -1;
        ws();
        if (doc[pos++] != ':') return -1;
        if (value(count)) return -1;
        ws();
        if (doc[pos] == ',') { pos++; continue; }
        if (doc[pos] == '}') { pos++; return 0; }
        return -1;
      }
    case '[':
      pos++; ws();
      if (doc[pos] == ']') { pos++; return 0; }
      for (;;) {
        if (value(count)) return -1;
        ws();
        if (doc[pos] == ',') { pos++; continue; }
        if (doc[pos] == ']') { pos++; return 0; }
        return -1;
      }
    case '"': return string();
    case 't': return literal("true");
    case 'f': return literal("false");
    case 'n': return literal("null");
    default: return number();
  }
}

__attribute__((export_name("run")))
uint32_t run(uint32_t rounds) {
  build();
  uint32_t total = 0;
  for (uint32_t r = 0; r < rounds; r++) {
    uint32_t count = 0;
    pos = 0;
    if (value(&count)) return 0xffffffff;
    total += count;
  }
  return total;
}
