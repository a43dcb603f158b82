/*
 * The version of wachatd and wachatctl (debian/changelog names the same).
 */

#ifndef WACHAT_VERSION_H
#define WACHAT_VERSION_H


#define WACHAT_VERSION   "0.2.1"


#endif /* WACHAT_VERSION_H */
