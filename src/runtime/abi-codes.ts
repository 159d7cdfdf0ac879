/**
 * The error codes a `"bext"` import hands the guest (docs/abi.md). They are one shared list in
 * the public ABI; each capability declares which of them its imports may return.
 */
export const ABI = Object.freeze({
  OK: 0,
  NOT_FOUND: -1,
  PERMISSION_DENIED: -2,
  QUOTA_EXCEEDED: -3,
  RATE_LIMITED: -4,
  INVALID_ARGUMENT: -5,
  TOO_LARGE: -6,
  INTERNAL: -7,
});

export type AbiCode = (typeof ABI)[keyof typeof ABI];

/** Result of a read: the bytes, or a negative ABI code. */
export type ReadResult = Uint8Array | number;
