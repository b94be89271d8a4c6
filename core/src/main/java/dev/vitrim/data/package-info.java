/**
 * Internal (not exported by the module): the data sets the command-line tool trains and evaluates on, their
 * fetching from the package registries, and batching. May change between releases.
 */
package dev.vitrim.data;
