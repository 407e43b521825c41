"""A private X server for tests of real windows: screenshots and typed keys."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np


def grab(display: str) -> np.ndarray:
    from PIL import ImageGrab
    return np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB"))


def press_key(display: str, key: str, x: int, y: int) -> None:
    """Move the pointer to (x, y) (focus follows it without a window manager) and type `key`."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
    xtst = ctypes.CDLL(ctypes.util.find_library("Xtst"))
    ptr, ulong = ctypes.c_void_p, ctypes.c_ulong
    x11.XOpenDisplay.restype, x11.XOpenDisplay.argtypes = ptr, [ctypes.c_char_p]
    x11.XStringToKeysym.restype, x11.XStringToKeysym.argtypes = ulong, [ctypes.c_char_p]
    x11.XKeysymToKeycode.restype, x11.XKeysymToKeycode.argtypes = ctypes.c_ubyte, [ptr, ulong]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ptr]
    xtst.XTestFakeMotionEvent.argtypes = [ptr, ctypes.c_int, ctypes.c_int, ctypes.c_int, ulong]
    xtst.XTestFakeKeyEvent.argtypes = [ptr, ctypes.c_uint, ctypes.c_int, ulong]
    dpy = x11.XOpenDisplay(display.encode())
    xtst.XTestFakeMotionEvent(dpy, -1, x, y, 0)
    code = x11.XKeysymToKeycode(dpy, x11.XStringToKeysym(key.encode()))
    xtst.XTestFakeKeyEvent(dpy, code, 1, 0)
    xtst.XTestFakeKeyEvent(dpy, code, 0, 0)
    x11.XFlush(dpy)
    x11.XCloseDisplay(dpy)
