/** The root of the library: {@link dev.vitrim.VitrimException}, the one exception every failure of bad input is reported with. */
package dev.vitrim;
