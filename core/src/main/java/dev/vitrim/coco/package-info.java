/**
 * COCO formats and metrics: {@link dev.vitrim.coco.CocoJson} reads and writes instances and results files,
 * {@link dev.vitrim.coco.Rle} the run-length masks, {@link dev.vitrim.coco.CocoEval} computes box and mask AP as
 * pycocotools does and {@link dev.vitrim.coco.SegmentationMetrics} mIoU accumulated over a set.
 */
package dev.vitrim.coco;
