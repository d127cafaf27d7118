// A result at full size: opens at 100 % (or fitted when it is larger than
// the window), zooms with the wheel or the buttons (25 %–800 %), pans by
// dragging, closes with Esc or the close button.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Popup {
    id: root

    /// image://daub/result/<id>
    property string source: ""
    property int imageWidth: 0
    property int imageHeight: 0
    /// 1 = 100 %.
    property real zoom: 1
    readonly property real fitZoom: imageWidth > 0 && imageHeight > 0
        ? Math.min(1, Math.min(flick.width / imageWidth, flick.height / imageHeight)) : 1

    function show(source, width, height) {
        root.source = source
        root.imageWidth = width
        root.imageHeight = height
        open()
        zoom = fitZoom
    }
    function setZoom(z) { zoom = Math.max(0.25, Math.min(8, z)) }

    parent: Overlay.overlay
    x: 0
    y: 0
    width: parent ? parent.width : 800
    height: parent ? parent.height : 600
    modal: true
    focus: true
    closePolicy: Popup.CloseOnEscape
    padding: 0
    background: Rectangle { color: Qt.rgba(0.06, 0.06, 0.08, 0.94) }

    Flickable {
        id: flick
        objectName: "viewerFlick"
        anchors.fill: parent
        anchors.bottomMargin: 52
        clip: true
        contentWidth: Math.max(width, root.imageWidth * root.zoom)
        contentHeight: Math.max(height, root.imageHeight * root.zoom)
        boundsBehavior: Flickable.StopAtBounds

        Image {
            id: image
            objectName: "viewerImage"
            source: root.opened ? root.source : ""
            width: root.imageWidth * root.zoom
            height: root.imageHeight * root.zoom
            x: (flick.contentWidth - width) / 2
            y: (flick.contentHeight - height) / 2
            fillMode: Image.Stretch
            smooth: root.zoom < 1
            mipmap: root.zoom < 1
            cache: false
        }
        WheelHandler {
            onWheel: (event) => root.setZoom(root.zoom * (event.angleDelta.y > 0 ? 1.25 : 0.8))
        }
        TapHandler {
            onDoubleTapped: root.setZoom(Math.abs(root.zoom - 1) < 0.01 ? root.fitZoom : 1)
        }
    }

    RowLayout {
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        anchors.margins: 8
        spacing: 6
        Label {
            Layout.fillWidth: true
            color: "#d8d8e0"
            text: qsTr("%1\u00d7%2 \u00b7 %3 %").arg(root.imageWidth).arg(root.imageHeight)
                  .arg(Math.round(root.zoom * 100))
        }
        Button {
            objectName: "viewerFit"
            text: qsTr("Fit")
            onClicked: root.zoom = root.fitZoom
        }
        Button {
            objectName: "viewer100"
            text: "100 %"
            onClicked: root.zoom = 1
        }
        Button { text: "\u2212"; onClicked: root.setZoom(root.zoom * 0.8) }
        Button { text: "+"; onClicked: root.setZoom(root.zoom * 1.25) }
        Button {
            objectName: "viewerClose"
            text: qsTr("Close")
            onClicked: root.close()
        }
    }
}
