// Names in trap frames: Rust legacy and v0 symbols and C++ (Itanium) ones demangled; anything
// not understood whole is shown as it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demangle } from '../../dist/runtime/frames/demangle.js';

const cases = (table) => {
  for (const [mangled, want] of table) assert.equal(demangle(mangled), want, mangled);
};

test('Rust legacy: path joined, hash dropped, escapes decoded, LLVM suffixes ignored', () => {
  cases([
    ['_ZN12page_counter12helper_index17hf519da5ead4e3fc7E', 'page_counter::helper_index'],
    ['_ZN3std9panicking19begin_panic_handler28_$u7b$$u7b$closure$u7d$$u7d$17h8ef066ac4d1e7406E', 'std::panicking::begin_panic_handler::{{closure}}'],
    ['_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure$u7d$$u7d$$GT$17h0bd8b7da45d2a35fE', 'core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>'],
    ['_ZN70_$LT$alloc..vec..Vec$LT$T$C$A$GT$$u20$as$u20$core..ops..drop..Drop$GT$4drop17h0123456789abcdefE', '<alloc::vec::Vec<T,A> as core::ops::drop::Drop>::drop'],
    ['_ZN7mycrate4main17h1111111111111111E.llvm.123', 'mycrate::main'],
    ['__ZN7mycrate4main17h1111111111111111E', 'mycrate::main'],
  ]);
});

test('Rust v0: paths, impls, trait impls, generics, closures, back-references', () => {
  cases([
    ['_RNvCs15kBYyAo9fc_7mycrate7example', 'mycrate::example'],
    ['_RNvNtCs1234_7mycrate3foo3bar', 'mycrate::foo::bar'],
    ['_RNvMs_Cs4Cv8Wi1oAIB_7mycrateNtB4_3Foo3bar', '<mycrate::Foo>::bar'],
    ['_RNvXs_Cs4Cv8Wi1oAIB_7mycrateNtB4_3FooNtNtCs7G3Fb7V6QYM_4core3fmt7Display3fmt', '<mycrate::Foo as core::fmt::Display>::fmt'],
    ['_RINvCs1234_7mycrate3foomlE', 'mycrate::foo::<u32, i32>'],
    ['_RNCNvCs1234_7mycrate4main0B3_', 'mycrate::main::{closure#0}'],
    ['_RINvNtC3std3mem8align_ofRShE', 'std::mem::align_of::<&[u8]>'],
  ]);
});

test('C++ (Itanium): functions, methods, const, constructors, std substitutions, templates', () => {
  cases([
    ['_Z3addii', 'add(int, int)'],
    ['_ZN3foo3barEv', 'foo::bar()'],
    ['_ZNK3Foo3getEi', 'Foo::get(int) const'],
    ['_ZN2ns5ClassC2ERKS0_', 'ns::Class::Class(ns::Class const&)'],
    ['_ZN2ns5ClassD2Ev', 'ns::Class::~Class()'],
    ['_ZNSt6vectorIiSaIiEE9push_backERKi', 'std::vector<int, std::allocator<int> >::push_back(int const&)'],
    ['_ZN9__gnu_cxx13new_allocatorIcE8allocateEmPKv', '__gnu_cxx::new_allocator<char>::allocate(unsigned long, void const*)'],
    ['_Z5parsePKcm', 'parse(char const*, unsigned long)'],
  ]);
});

test('plain names and what is not understood stay as they are', () => {
  cases([
    ['on_reload', 'on_reload'],
    ['bext_out_of_fuel', 'bext_out_of_fuel'],
    ['wasm-function[7]', 'wasm-function[7]'],
    ['_ZN3foo', '_ZN3foo'],
    ['_RNvC', '_RNvC'],
    ['_Zfoo', '_Zfoo'],
  ]);
});
