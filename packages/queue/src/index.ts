/** @ballast/queue: the public surface (under construction). */
export const PACKAGE = '@ballast/queue';
