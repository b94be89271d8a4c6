/**
 * Internal (not exported by the module): the {@code scenes} generator (Fashion-MNIST items on real photos) with
 * its labels, boxes, masks and COCO export. May change between releases.
 */
package dev.vitrim.data.scenes;
