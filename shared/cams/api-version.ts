export const CAMS_API_VERSION = '2020-06-06';
