/** @ballast/discovery: the public surface (under construction). */
export const PACKAGE = '@ballast/discovery';
