/* PLACEHOLDER-UNTIL-MODULE-LANDS */
typedef int placeholder_mjpeg;
