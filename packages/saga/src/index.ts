/** @ballast/saga: the public surface (under construction). */
export const PACKAGE = '@ballast/saga';
