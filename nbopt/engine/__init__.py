"""The engine: conversion, quantization and measurement.

Nothing here imports IPython or ipywidgets; TensorFlow is imported on first use.
"""
