/** @ballast/config-center: the public surface (under construction). */
export const PACKAGE = '@ballast/config-center';
