/**
 * The WebAssembly binary layer: byte reader/writer, module-info parser, and the one error type.
 * It sits at the bottom of bext and imports nothing from the rest of it.
 */
export { Reader, Writer, u32Size } from './bytes.js';
export { WasmFormatError, invalid, truncated, type WasmErrorKind } from './errors.js';
export {
  parseModule,
  hasWasmMagic,
  formatSignature,
  sameType,
  SECTION,
  type FuncType,
  type ImportDesc,
  type Limits,
  type ParsedModule,
  type ParseOptions,
  type SectionSpan,
  type ValType,
  type WasmExport,
  type WasmImport,
} from './module-info.js';
export { v8CompileMessage } from './v8-message.js';
export { readFunctionNames } from './function-names.js';
export { guessLanguage, type LanguageGuess } from './language.js';
