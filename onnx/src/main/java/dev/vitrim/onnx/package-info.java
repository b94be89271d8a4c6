/** ONNX export of vitrim's ViT forward (token reduction included) and inference on ONNX Runtime. */
package dev.vitrim.onnx;
