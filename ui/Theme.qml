// Colours and sizes of the window, light and dark. Main.qml binds `dark`
// to AppSettings.dark; components read the rest and never decide colours
// themselves.
pragma Singleton
import QtQuick

QtObject {
    property bool dark: false

    // Surfaces
    readonly property color window: dark ? "#1b1c1f" : "#f5f5f7"
    readonly property color panel: dark ? "#222327" : "#ffffff"
    readonly property color base: dark ? "#2a2b30" : "#ffffff"
    readonly property color raised: dark ? "#2e3035" : "#ffffff"
    readonly property color sunken: dark ? "#17181a" : "#ececf0"
    readonly property color border: dark ? "#3a3c42" : "#dcdce2"
    readonly property color button: dark ? "#33353b" : "#f0f0f3"

    // Text
    readonly property color text: dark ? "#ececf1" : "#1d1d22"
    readonly property color mutedText: dark ? "#a0a2ab" : "#6b6b76"
    readonly property color faintText: dark ? "#74767f" : "#9b9ba5"

    // Accents
    readonly property color accent: dark ? "#8b7dff" : "#5b4bf0"
    readonly property color accentText: "#ffffff"
    readonly property color accentSoft: dark ? "#2f2b52" : "#ebe8ff"
    readonly property color userBubble: dark ? "#3a3470" : "#5b4bf0"
    readonly property color userBubbleText: "#ffffff"
    readonly property color userBubbleMuted: dark ? "#c9c3ff" : "#dcd7ff"
    readonly property color danger: dark ? "#ff7b7b" : "#c62828"
    readonly property color dangerSoft: dark ? "#3d2427" : "#fdecec"
    readonly property color success: dark ? "#6fd08c" : "#2e7d32"
    readonly property color dropHighlight: dark ? "#3d3570" : "#e6e2ff"

    // Sizes
    readonly property int radius: 10
    readonly property int smallRadius: 6
    readonly property int spacing: 8
    readonly property int padding: 12
    readonly property int panelWidth: 340
    readonly property real smallFont: 0.85
}
